# The Python program of the python_* runtime cases: a function with parameters and
# locals, a method, and an exit status of its own.
import sys


class Scale:
    def convert(self, celsius):
        return celsius * 9 // 5 + 32


def fahrenheit(celsius, label="t"):
    factor = 9
    offset = 32
    return celsius * factor // 5 + offset


def main():
    print(fahrenheit(int(sys.argv[1])))
    print(Scale().convert(100))
    return 3


if __name__ == "__main__":
    sys.exit(main())
