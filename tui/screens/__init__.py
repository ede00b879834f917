"""One screen per area: home, request, accounts, data sources, audiences, checklist."""
