"""What each call raises, as JSON-able ``[class name, first line of the message]`` (None when it returns):
the error part of the golden scripts' ``cases``, run the same way under torch and ferrotorch."""


def errors_of(calls):
    out = []
    for call in calls:
        try:
            call()
            out.append(None)
        except Exception as e:  # noqa: BLE001
            out.append([type(e).__name__, str(e).split("\n")[0]])
    return out
