"""otel/render: the Grafana dashboard drawn on real data without Grafana (see __main__)."""
