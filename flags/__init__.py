"""Shared absl flag definitions and flagfiles that reproduce each document.

Import the submodules explicitly (`from flags import definitions`); absl's own
package is imported as `from absl import flags as absl_flags` everywhere in
this project so the two are never confused.
"""
