"""How many messages the streams between a transport and its session hold (both transports).

With none, every message costs a task switch each way while the sender waits
for the receiver: about a tenth of the client's CPU per upstream in the
fan-out benchmark. Replies stay nearly unbuffered: each may weigh up to the
reply cap, so a server that streams many waits for the session to take them.
"""

REPLIES_BUFFERED = 1  # transport -> session: parsed replies and notifications
REQUESTS_BUFFERED = 16  # session -> transport: our own requests, small
