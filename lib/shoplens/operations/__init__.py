"""Operations settings that are not synced: restock lead times per shop or SKU (`shoplens stock`)."""
