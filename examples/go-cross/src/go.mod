module example.com/go-cross

go 1.19
