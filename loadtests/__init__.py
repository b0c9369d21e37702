"""Locust load tests for Python Learning Studio (issue 9).

Layout, following Locust's "organise your test code" advice and its ``-f <directory>`` rule that
every ``*.py`` file whose name does not start with ``_`` is a locustfile:

* ``locustfile.py``  the personas (User classes) and, when LOAD_SHAPE=step, the step-load shape;
* ``_harness.py``    command-line options, grading and the Prometheus fidelity check (event hooks,
                     registered once, run on the master or local runner only);
* ``_shapes.py``     ``StepLoadShape``: capacity at target.

The grading and fidelity logic lives in ``app/core/grading.py`` and ``app/core/fidelity.py`` (plain
Python, shared with ``manage.py benchmark`` and the tests).  See docs/benchmarks.md for the commands.
"""
