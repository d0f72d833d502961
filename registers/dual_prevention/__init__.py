"""Risk grading and control (风险分级管控) and investigation tasks (隐患排查) of dual prevention (双重预防)."""
