"""The PdM dataflow: condition windows in, health / RUL predictions and one-off warnings out."""
