# The python_* runtime cases' program: a function with parameters and locals, a method,
# an exit status; it writes to stderr, which the probes' output (stdout) cannot overtake.
import sys


class Scale:
    def convert(self, celsius):
        return celsius * 9 // 5 + 32


def fahrenheit(celsius, label="t"):
    factor = 9
    offset = 32
    return celsius * factor // 5 + offset


def main():
    print(fahrenheit(int(sys.argv[1])), file=sys.stderr)
    print(Scale().convert(100), file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
