"""`make bench`: size, boot time, idle memory and reservation speed of the image, side by side
with the stock way of running a PyWorker."""
