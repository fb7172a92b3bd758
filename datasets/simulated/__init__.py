"""Simulated episodes (gymnasium's classic control and MuJoCo tasks, gymnasium-robotics' PointMaze):
generated once per configuration, cached, and cut into windows whose given channels are the
actions (or the goal). Importing the package imports no simulator."""
