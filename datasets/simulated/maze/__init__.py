"""PointMaze (gymnasium-robotics): the maze's cells and shortest paths (`layout`), the scripted
waypoint controller and the PD tracker (`controller`), episodes for training (`generate`) and plans
executed on the real simulator (`execute`). Importing the package imports no simulator."""
