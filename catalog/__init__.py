"""The catalog: SQLModel tables, sessions, migrations, search, standards (DA/T 13/18/59) and exports."""
