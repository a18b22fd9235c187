"""Background work run by the long-lived edges (index jobs, file watching)."""
