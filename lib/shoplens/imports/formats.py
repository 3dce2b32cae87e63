"""What a Seller Center "All orders" export looks like: its columns, and the words it uses for order
statuses, countries and currencies in each Seller Center language.

Seller Center writes the header row of the order export in English whatever the seller's language
(sellers in Vietnam, Indonesia and Thailand get `Order ID`, `Order Status`...); the status and
substatus *values* are in the seller's language. One row per SKU line; order-level amounts repeat on
every row of the order. Only tables here: this module must never parse a file or touch the warehouse.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from shoplens.errors import ShoplensError


@dataclass(frozen=True)
class Column:
    """One column of the order export: the field it fills and how to read it."""

    field: str
    header: str
    #: id, text, label, int, money, time
    kind: str
    required: bool = False
    #: the value belongs to the order and repeats on each of its rows: it must agree, and counts once
    order_level: bool = False
    aliases: tuple[str, ...] = ()


ORDER_COLUMNS: tuple[Column, ...] = (
    Column("order_id", "Order ID", "id", required=True),
    Column("status", "Order Status", "label", required=True, order_level=True),
    Column("substatus", "Order Substatus", "label", order_level=True),
    Column("cancel_return_type", "Cancelation/Return Type", "text",
           aliases=("Cancellation/Return Type", "Cancel/Return Type")),
    Column("sku_id", "SKU ID", "id"),
    Column("seller_sku", "Seller SKU", "text"),
    Column("product_name", "Product Name", "text"),
    Column("variation", "Variation", "text"),
    Column("quantity", "Quantity", "int", required=True),
    Column("returned_quantity", "Sku Quantity of return", "int"),
    Column("unit_original_price", "SKU Unit Original Price", "money"),
    Column("platform_discount", "SKU Platform Discount", "money"),
    Column("seller_discount", "SKU Seller Discount", "money"),
    Column("subtotal", "SKU Subtotal After Discount", "money", required=True),
    Column("shipping_fee", "Shipping Fee After Discount", "money", order_level=True),
    Column("taxes", "Taxes", "money", order_level=True),
    Column("order_amount", "Order Amount", "money", required=True, order_level=True),
    Column("refund_amount", "Order Refund Amount", "money", order_level=True),
    Column("created", "Created Time", "time", required=True, order_level=True),
    Column("paid", "Paid Time", "time", order_level=True),
    Column("rts", "RTS Time", "time", order_level=True),
    Column("shipped", "Shipped Time", "time", order_level=True),
    Column("delivered", "Delivered Time", "time", order_level=True),
    Column("cancelled", "Cancelled Time", "time", order_level=True, aliases=("Canceled Time",)),
    Column("buyer", "Buyer Username", "text", order_level=True),
    Column("country", "Country", "text", order_level=True),
)
#: columns Seller Center writes that shoplens leaves alone on purpose: the buyer's name, phone and
#: address are personal data the warehouse never stores
IGNORED_HEADERS = ("Recipient", "Phone #", "Detail Address", "Additional address information", "Zipcode")


def normalize(text: str) -> str:
    """Header or label text compared loosely: NFC, case-folded, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", str(text)).replace("\ufeff", "").casefold().split())


# --- order status labels ------------------------------------------------------------------------------
#: Seller Center's order status and substatus words per language -> the Open API status enum. One table
#: serves both columns; the substatus, when known, is the finer of the two (docs/imports.md).
STATUS_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "UNPAID": ("Unpaid", "Awaiting payment", "Pending payment"),
        "ON_HOLD": ("On hold",),
        "AWAITING_SHIPMENT": ("To ship", "Awaiting shipment", "Ready to ship"),
        "PARTIALLY_SHIPPING": ("Partially shipped", "Partially shipping"),
        "AWAITING_COLLECTION": ("Awaiting collection", "Awaiting pickup"),
        "IN_TRANSIT": ("Shipped", "In transit", "Shipping"),
        "DELIVERED": ("Delivered",),
        "COMPLETED": ("Completed",),
        "CANCELLED": ("Cancelled", "Canceled"),
    },
    "zh": {
        "UNPAID": ("待付款", "未付款", "待支付"),
        "ON_HOLD": ("暂挂", "保留中"),
        "AWAITING_SHIPMENT": ("待发货", "待出货"),
        "PARTIALLY_SHIPPING": ("部分发货",),
        "AWAITING_COLLECTION": ("待揽收", "待取件"),
        "IN_TRANSIT": ("已发货", "运输中", "配送中"),
        "DELIVERED": ("已送达", "已签收"),
        "COMPLETED": ("已完成",),
        "CANCELLED": ("已取消",),
    },
    "th": {
        "UNPAID": ("ยังไม่ชำระเงิน", "รอการชำระเงิน", "ที่ต้องชำระ"),
        "ON_HOLD": ("ระงับชั่วคราว", "พักไว้"),
        "AWAITING_SHIPMENT": ("ที่ต้องจัดส่ง", "รอจัดส่ง", "รอการจัดส่ง"),
        "PARTIALLY_SHIPPING": ("จัดส่งบางส่วน",),
        "AWAITING_COLLECTION": ("รอการรับพัสดุ", "รอขนส่งเข้ารับ", "รอเข้ารับพัสดุ"),
        "IN_TRANSIT": ("จัดส่งแล้ว", "กำลังจัดส่ง", "อยู่ระหว่างการจัดส่ง", "อยู่ระหว่างขนส่ง"),
        "DELIVERED": ("จัดส่งสำเร็จ", "ส่งถึงแล้ว", "ได้รับสินค้าแล้ว"),
        "COMPLETED": ("เสร็จสมบูรณ์", "สำเร็จ", "เสร็จสิ้น"),
        "CANCELLED": ("ยกเลิกแล้ว", "ยกเลิก"),
    },
    "vi": {
        "UNPAID": ("Chưa thanh toán", "Chờ thanh toán"),
        "ON_HOLD": ("Tạm giữ", "Đang tạm giữ"),
        "AWAITING_SHIPMENT": ("Chờ vận chuyển", "Chờ giao hàng", "Cần gửi", "Chờ gửi hàng"),
        "PARTIALLY_SHIPPING": ("Đã gửi một phần", "Giao một phần"),
        "AWAITING_COLLECTION": ("Chờ lấy hàng",),
        "IN_TRANSIT": ("Đã gửi hàng", "Đang vận chuyển", "Đang giao", "Đang giao hàng", "Đã vận chuyển"),
        "DELIVERED": ("Đã giao", "Đã giao hàng", "Đã nhận hàng"),
        "COMPLETED": ("Đã hoàn thành", "Hoàn thành"),
        "CANCELLED": ("Đã hủy", "Đã huỷ", "Hủy", "Huỷ"),
    },
    "id": {
        "UNPAID": ("Belum dibayar", "Menunggu pembayaran"),
        "ON_HOLD": ("Ditahan", "Tertahan"),
        "AWAITING_SHIPMENT": ("Perlu dikirim", "Menunggu pengiriman", "Siap dikirim", "Akan dikirim"),
        "PARTIALLY_SHIPPING": ("Dikirim sebagian",),
        "AWAITING_COLLECTION": ("Menunggu diambil", "Menunggu penjemputan", "Menunggu pickup"),
        "IN_TRANSIT": ("Dikirim", "Sedang dikirim", "Dalam pengiriman", "Dalam perjalanan"),
        "DELIVERED": ("Terkirim", "Telah diterima", "Sudah diterima", "Diterima"),
        "COMPLETED": ("Selesai",),
        "CANCELLED": ("Dibatalkan",),
    },
    "ms": {
        "UNPAID": ("Belum dibayar", "Menunggu pembayaran"),
        "ON_HOLD": ("Ditahan",),
        "AWAITING_SHIPMENT": ("Untuk dihantar", "Perlu dihantar", "Menunggu penghantaran"),
        "PARTIALLY_SHIPPING": ("Dihantar sebahagian",),
        "AWAITING_COLLECTION": ("Menunggu pengambilan", "Menunggu kutipan"),
        "IN_TRANSIT": ("Dihantar", "Sedang dihantar", "Dalam transit", "Dalam penghantaran"),
        "DELIVERED": ("Berjaya dihantar", "Telah diterima", "Diterima"),
        "COMPLETED": ("Selesai",),
        "CANCELLED": ("Dibatalkan",),
    },
}
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "th": "Thai", "vi": "Vietnamese", "id": "Indonesian",
                  "ms": "Malay"}


def _label_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for table in STATUS_LABELS.values():
        for status, labels in table.items():
            for label in labels:
                key = normalize(label)
                if index.setdefault(key, status) != status:  # a word must mean one status in every language
                    raise AssertionError(f"status label {label!r} maps to {index[key]} and {status}")
    return index


LABEL_STATUS: dict[str, str] = _label_index()


#: the Open API's order statuses (202309): what any status word, built in or the user's, must map to
API_STATUSES = ("UNPAID", "ON_HOLD", "AWAITING_SHIPMENT", "PARTIALLY_SHIPPING", "AWAITING_COLLECTION", "IN_TRANSIT",
                "DELIVERED", "COMPLETED", "CANCELLED")


def status_of(label: str, words: dict[str, str] | None = None) -> str | None:
    """The API status a Seller Center label means, or None for a label shoplens does not know. `words`
    (from `status_words`) are the user's own, and win over the built-in table."""
    key = normalize(label)
    return (words or {}).get(key) or LABEL_STATUS.get(key)


def status_words(mapping: dict[str, str], *, source: str) -> dict[str, str]:
    """The user's status words (word -> API status, from `--status WORD=STATUS` or `[export_status_words]`
    in shoplens.toml), checked against the API's status list and keyed like labels are compared."""
    words, problems = {}, []
    for word, status in mapping.items():
        wanted = str(status).strip().upper()
        if not str(word).strip():
            problems.append(f"an empty word (mapped to {status!r})")
        elif wanted not in API_STATUSES:
            problems.append(f"{word!r} = {status!r} is not an API status")
        else:
            words[normalize(word)] = wanted
    if problems:
        raise ShoplensError(f"{source}: {'; '.join(problems)}; use one of {', '.join(API_STATUSES)}")
    return words


def parse_status_option(values: list[str]) -> dict[str, str]:
    """`--status WORD=STATUS` values -> {word: status}, each written as WORD=STATUS."""
    mapping = {}
    for value in values:
        word, sep, status = value.rpartition("=")
        if not sep or not word.strip() or not status.strip():
            raise ShoplensError(f"--status {value!r}: write the export's word and the API status it means, "
                                f"e.g. --status 'รอส่ง=AWAITING_SHIPMENT'")
        mapping[word.strip()] = status.strip()
    return mapping


# --- countries and currencies (to notice a file from another shop) -------------------------------------
#: how the `Country` column may name each region's country
COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "TH": ("Thailand", "ประเทศไทย", "ไทย", "TH"),
    "GB": ("United Kingdom", "UK", "GB", "Great Britain"),
    "US": ("United States", "United States of America", "USA", "US"),
    "VN": ("Vietnam", "Viet Nam", "Việt Nam", "VN"),
    "MY": ("Malaysia", "MY"),
    "PH": ("Philippines", "PH"),
    "ID": ("Indonesia", "ID"),
    "SG": ("Singapore", "SG"),
}
COUNTRY_REGION: dict[str, str] = {normalize(name): code for code, names in COUNTRY_NAMES.items() for name in names}

#: currency symbols and local abbreviations as amounts carry them -> the currencies they can mean
CURRENCY_SYMBOLS: dict[str, tuple[str, ...]] = {
    "฿": ("THB",), "£": ("GBP",), "₫": ("VND",), "đ": ("VND",), "Rp": ("IDR",), "RM": ("MYR",), "₱": ("PHP",),
    "S$": ("SGD",), "US$": ("USD",), "$": ("USD", "SGD"),
}
