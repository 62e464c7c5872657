"""Lines a test wants in the run's output (pytest captures prints): conftest prints them at the end."""

LINES: list[str] = []


def report(line: str) -> None:
    LINES.append(line)
