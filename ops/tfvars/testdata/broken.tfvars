scalardl = {
  blue_image_tag = "2.1.0"
