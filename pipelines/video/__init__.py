"""Video-detection stream: DeepStream payloads to detections and alarms (issue 11)."""
