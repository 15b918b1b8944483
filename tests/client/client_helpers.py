"""Constants the client tests and their fixtures share (a conftest cannot be imported reliably)."""

API_KEY = "client-test-key"
