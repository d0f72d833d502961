"""Special-work permits (特殊作业许可, GB 30871-2022): planning, gas analysis, approval, work, closure."""
