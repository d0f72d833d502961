"""Intelligent inspection (智能巡检): points, check items, routes, plans, rounds, check-ins and readings."""
