"""Asset URI handlers for the provider's schemes (``cos``)."""
