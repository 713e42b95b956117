"""``python -m toolkit``: the ``toolkit`` command line.

    $ python -m toolkit validate customers.cc5txt
"""

from toolkit.cli import main

if __name__ == "__main__":
    main()
