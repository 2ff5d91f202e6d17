"""Hands-on Linux labs: the lab XBlock, its sessions and the sandbox engine behind them."""
