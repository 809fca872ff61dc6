"""One-click remediation: proposals for idle GPU instances, a registry of per-cloud actions
that declare the cloud permissions they need, and the one runner that decides dry-run,
authorisation, once-only and the fingerprint re-check, and audits every decision."""
