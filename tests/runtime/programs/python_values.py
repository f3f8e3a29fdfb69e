# The python_values_* runtime cases' program: values HelperSDT must print without running
# the program's code or raising into it (a list that holds itself, an object whose
# __class__ raises, a str subclass whose __str__ raises), and an uncaught KeyboardInterrupt.
import sys


class Proxy(object):
    @property
    def __class__(self):
        raise RuntimeError("working outside of application context")


class Text(str):
    def __str__(self):
        raise RuntimeError("not here")


def show(items, proxy, text):
    return len(items)


def main():
    if sys.argv[1] == "interrupt":
        raise KeyboardInterrupt
    cycle = [1]
    cycle.append(cycle)
    print(show(cycle, Proxy(), Text("t")), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
