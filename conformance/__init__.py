"""realtimekit-conformance: does an implementation of the RealtimeKit meeting API end sessions correctly?"""

__version__ = "0.1.0"
