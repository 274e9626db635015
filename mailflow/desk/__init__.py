"""The desk: what happens to one mail and one complaint. Intake routes a mail;
registration, replies, bounces and the deadline pass ask the core what it
means and apply the answer (rows, hops, and mail through ``Letters``, the
one place that renders and enqueues)."""
