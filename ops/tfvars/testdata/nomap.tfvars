region = "ap-northeast-1"
base   = "default"
