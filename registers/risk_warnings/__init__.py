"""Risk warnings (风险预警): the closed loop of a real-time risk level change (推送-反馈-闭环)."""
