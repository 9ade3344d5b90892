"""The economics of a switchyard deployment: reports from the ledger's rollups (spend, savings against
the premium-only counterfactual, proprietary share, latency), and total cost of ownership."""
