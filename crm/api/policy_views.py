"""GET /api/v1/firms/{id}/packages and /api/v1/firms/{id}/policies."""
