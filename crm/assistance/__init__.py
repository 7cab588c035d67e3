"""One-stop assistance cases (一条龙帮办), their types and stage templates, and prospects."""
