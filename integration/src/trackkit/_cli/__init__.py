"""Subcommands of the `trackkit` command line.

Every module in this package defines ``register(subparsers)``, which adds one subcommand whose
parser sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit
code). ``trackkit.cli`` discovers the modules, so adding a subcommand touches no shared file.
"""
