"""Seller Center "All orders" exports written the way Seller Center writes them, for the import tests:
English header row, one row per SKU, order-level amounts repeated on each row, ids padded with a tab."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

HEADER = [
    "Order ID", "Order Status", "Order Substatus", "Cancelation/Return Type", "Normal or Pre-order", "SKU ID",
    "Seller SKU", "Product Name", "Variation", "Quantity", "Sku Quantity of return", "SKU Unit Original Price",
    "SKU Subtotal Before Discount", "SKU Platform Discount", "SKU Seller Discount", "SKU Subtotal After Discount",
    "Shipping Fee After Discount", "Original Shipping Fee", "Shipping Fee Seller Discount",
    "Shipping Fee Platform Discount", "Payment platform discount", "Taxes", "Order Amount", "Order Refund Amount",
    "Created Time", "Paid Time", "RTS Time", "Shipped Time", "Delivered Time", "Cancelled Time", "Cancel By",
    "Cancel Reason", "Fulfillment Type", "Warehouse Name", "Tracking ID", "Delivery Option",
    "Shipping Provider Name", "Buyer Message", "Buyer Username", "Recipient", "Phone #", "Country", "Province",
    "District", "Detail Address", "Additional address information", "Payment Method", "Weight(kg)",
    "Product Category", "Package ID", "Seller Note", "Checked Status", "Checked Marked by",
]
#: the second row some exports carry, explaining each column
DESCRIPTIONS = {"Order ID": "Platform unique order ID.", "Order Status": "Current order status.",
                "Quantity": "SKU sold quantity in the order.", "Order Amount": "The total amount the buyer paid."}
TAB_PADDED = ("Order ID", "SKU ID", "Tracking ID", "Package ID")


def line(**values) -> dict:
    """One SKU row; keys are headers with punctuation as underscores: Order_ID, Cancelation_Return_Type."""
    row = {h: "" for h in HEADER}
    for key, value in values.items():
        header = next(h for h in HEADER if _squash(h) == _squash(key))
        row[header] = value
    row["Recipient"] = row["Recipient"] or "N*** S***"
    row["Phone #"] = row["Phone #"] or "(+66)81*****12"
    row["Detail Address"] = row["Detail Address"] or "99/1 *** Road"
    return row


def _squash(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def write_csv(path: Path, rows: list[dict], *, bom: bool = True, header: list[str] = HEADER,
              description_row: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    if description_row:
        writer.writerow([DESCRIPTIONS.get(h, "") for h in header])
    for row in rows:
        writer.writerow([_cell(h, row.get(h, "")) for h in header])
    path.write_bytes((("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8"))
    return path


def write_xlsx(path: Path, rows: list[dict], *, header: list[str] = HEADER) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "OrderSKUList"
    sheet.append(header)
    for row in rows:
        sheet.append([_cell(h, row.get(h, "")) for h in header])
    book.save(path)
    return path


def _cell(header: str, value):
    if header in TAB_PADDED and value not in ("", None) and isinstance(value, str):
        return value + "\t"
    return value
