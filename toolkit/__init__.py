"""toolkit: the Excel round trip of target-task reporting (目标任务 报送 汇总)."""

__version__ = "0.1.0"
