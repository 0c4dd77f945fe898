// proxima: the one executable. (scaffold)
print("proxima")
