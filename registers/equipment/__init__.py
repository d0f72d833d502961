"""Equipment and facilities (设备设施): equipment tree with hierarchical codes, one file per equipment.

``models`` (tables), ``schemas`` (Create / Update / Read and the tree and file views),
``service`` (the registers on the framework, views, PdM work orders), ``workflow`` (transition
tables of work orders and SIS bypasses), ``demo`` (the demo plant's equipment).
"""
