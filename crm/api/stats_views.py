"""The figures of DESIGN §9: GET /api/v1/stats/demands and /api/v1/stats/visits."""
