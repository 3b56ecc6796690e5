"""Mail to fax and fax to mail: fax addresses, message parsing, intake, reports."""
