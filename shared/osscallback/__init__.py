"""oss-callback-fc: safe, easy OSS upload callbacks on Alibaba Cloud Function Compute.

The package is deliberately light to import: the callback function's cold start goes through here, so nothing
heavy (and never ``oss2``) is imported at package level. Import the submodule you need.
"""

__version__ = "0.1.0"
