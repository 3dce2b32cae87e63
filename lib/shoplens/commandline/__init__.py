"""What every `shoplens` command shares: turning mistakes into one readable line (`errors`), help panels
in the order a user meets the commands (`help`), tables that scripts can read as CSV or JSON (`output`),
and the parsing of dates and comma lists (`params`). Area sub-apps (`<area>/cli.py`) use these; this
package must never hold a command itself, nor print a traceback for a user's mistake.
"""

from shoplens.commandline.help import PANELS, PanelOrderedGroup, Panel
from shoplens.commandline.output import Column, Listing, Output, OutputFormat, emit
from shoplens.commandline.params import parse_date, split_list

__all__ = ["Column", "Listing", "Output", "OutputFormat", "PANELS", "Panel", "PanelOrderedGroup", "emit",
           "parse_date", "split_list"]
