"""What every layer shares: the consumer and market formulas, the day's data, the samplers.

``core`` imports nothing else of livemarket but the configuration: the agents (who acts) and
the models (how a day runs) both build on it, so neither needs the other's internals.
"""
