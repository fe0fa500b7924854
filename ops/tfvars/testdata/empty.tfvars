scalardl = {}
