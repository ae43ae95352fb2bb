"""The coordinator: reads the inverter, decides each quarter-hour whether to charge the
battery from the grid (or sell from it), commands the inverter, and stores everything.

Modules: ``logic`` (the charging rules, pure), ``sessions`` (the daily plan and session
records), ``selling`` (battery selling), ``executor`` (commands through the gateway),
``pv_forecast``, ``daily_stats``, ``clock`` (real or simulated time), ``master`` (the
MasterCoordinator that runs the timers).
"""
