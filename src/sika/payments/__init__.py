"""Collections (pay-ins) and payouts through providers, phased around provider calls."""
