"""Major hazard sources (重大危险源): GB 18218 identification and grading, 包保 responsibility and duties."""
