"""Production process base information (生产过程基础信息): hazardous processes, chemicals (MSDS), start-up/shut-down."""
