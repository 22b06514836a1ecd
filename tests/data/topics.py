"""Distinct support questions for tests that need examples no dedup or conflict check will merge."""

TOPICS = [
    "reset my password",
    "download last month's invoice",
    "add a second user to the account",
    "change the billing address",
    "export my contacts to a spreadsheet",
    "turn on two-factor sign-in",
    "cancel the annual plan",
    "recover a deleted project",
    "connect the calendar integration",
    "lower the notification volume",
    "translate the interface into Dutch",
    "print a shipping label",
]
