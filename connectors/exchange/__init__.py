"""Client for the regulator / park platform data exchange (数据交换): one POST per record, idempotent."""

from connectors.exchange.client import ExchangeClient, ExchangeResult

__all__ = ["ExchangeClient", "ExchangeResult"]
